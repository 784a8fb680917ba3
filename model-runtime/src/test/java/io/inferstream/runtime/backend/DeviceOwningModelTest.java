package io.inferstream.runtime.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.runtime.cuda.CudaLlamaModel;
import io.inferstream.runtime.model.LanguageModel;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The model {@code --device cuda} gives the engine (through {@link Backends#load}) is the CUDA model in all but
 * closing: no method of {@link LanguageModel} may be left to the interface's CPU default. One was (the logit
 * candidates, the KV budget and where the logits live), so the jobs and the CLI copied whole logit rows to the host
 * every step while the GPU tests, which use {@link CudaLlamaModel} directly, did not.
 */
class DeviceOwningModelTest {

    @Test
    void everyMethodOfLanguageModelIsPassedOnToTheCudaModel() throws NoSuchMethodException {
        List<String> inherited = new ArrayList<>();
        int defaults = 0;
        for (Method m : LanguageModel.class.getMethods()) {
            if (Modifier.isStatic(m.getModifiers())) {
                continue;
            }
            defaults += m.isDefault() ? 1 : 0;
            Method declared = DeviceOwningModel.class.getMethod(m.getName(), m.getParameterTypes());
            if (declared.getDeclaringClass() != DeviceOwningModel.class) {
                inherited.add(m.getName());
            }
            // and the CUDA model has its own, unless the interface's is right for it too (close is AutoCloseable's)
        }
        assertEquals(List.of(), inherited, "methods DeviceOwningModel leaves to LanguageModel's defaults");
        assertTrue(defaults >= 5, "LanguageModel's defaults: forwardCandidates, kvCacheBudget, logitsOnDevice, unusable, close");
        for (String name : List.of("forwardCandidates", "kvCacheBudget", "logitsOnDevice", "unusable")) {
            boolean own = false;
            for (Method m : CudaLlamaModel.class.getDeclaredMethods()) {
                own |= m.getName().equals(name);
            }
            assertTrue(own, "CudaLlamaModel declares " + name);
        }
    }
}
