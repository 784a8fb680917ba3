package io.inferstream.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The on|off properties that force a load-time kernel choice refuse any other value, naming the property (no GPU). */
class OnOffPropertyTest {

    private static final String PROPERTY = "inferstream.cuda.test.onOff";

    @AfterEach
    void clear() {
        System.clearProperty(PROPERTY);
    }

    @Test
    void unsetOnAndOffPassAndAnythingElseIsRefused() {
        assertNull(CudaLlamaModel.onOff(PROPERTY));
        System.setProperty(PROPERTY, "on");
        assertEquals("on", CudaLlamaModel.onOff(PROPERTY));
        System.setProperty(PROPERTY, "off");
        assertEquals("off", CudaLlamaModel.onOff(PROPERTY));
        System.setProperty(PROPERTY, "ON");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CudaLlamaModel.onOff(PROPERTY));
        assertTrue(e.getMessage().contains("-D" + PROPERTY + " must be on or off, got 'ON'"), e.getMessage());
    }

    @Test
    void aTrialThatLostTheContextIsReportedWithTheChoicesProperty() {
        String m = CudaLlamaModel.lostContext("inferstream.cuda.wgmma", new IllegalStateException("CUDA_ERROR_ILLEGAL_ADDRESS"),
                new IllegalStateException("CUDA_ERROR_ILLEGAL_ADDRESS again"));
        assertTrue(m.contains("-Dinferstream.cuda.wgmma forces"), m);
        assertTrue(m.contains("CUDA_ERROR_ILLEGAL_ADDRESS;"), m);
        assertTrue(m.contains("then java.lang.IllegalStateException: CUDA_ERROR_ILLEGAL_ADDRESS again"), m);
        assertTrue(m.contains("Force the choice with -Dinferstream.cuda.wgmma"), m);
    }
}
