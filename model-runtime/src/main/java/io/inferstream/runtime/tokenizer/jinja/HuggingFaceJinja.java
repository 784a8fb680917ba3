package io.inferstream.runtime.tokenizer.jinja;

import java.time.Clock;
import java.time.Instant;
import java.util.Map;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;

import jinjava.javax.el.CompositeELResolver;

/**
 * Jinjava set up the way Hugging Face transformers' {@code apply_chat_template} sets up Jinja: Python's operator
 * precedence and whitespace control, Python's {@code str} methods ({@link PythonStringMethods}), and the globals
 * {@code raise_exception(message)} and {@code strftime_now(format)} (the clock's time in its zone; transformers uses
 * local time). Templates go through {@link JinjavaSyntaxRewriter} before they get here, which also applies
 * {@code trim_blocks} and {@code lstrip_blocks}.
 */
public final class HuggingFaceJinja {

    private final Jinjava jinjava;

    /** @param clock what {@code strftime_now} reads: the system clock in the default zone, or a fixed one in tests */
    public HuggingFaceJinja(Clock clock) {
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PythonStringMethods());
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY); // JinjavaConfig's default
        JinjavaConfig config = JinjavaConfig.newBuilder()
                // trim_blocks and lstrip_blocks are applied by JinjavaSyntaxRewriter, as jinja2's lexer applies them
                .withTrimBlocks(false)
                .withLstripBlocks(false)
                .withElResolver(resolver)
                .withDateTimeProvider(clock::millis)
                .withTimeZone(clock.getZone())
                // Python-Jinja semantics: {{- -}} trimming on expressions, whitespace control only where a '-' touches
                // the delimiter ({{ -1 }} is minus one), natural precedence.
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withUseTrimmingForNotesAndExpressions(true)
                        .withParseWhitespaceControlStrictly(true)
                        .withUseNaturalOperatorPrecedence(true)
                        .withKeepNullableLoopValues(true)
                        .build())
                .build();
        jinjava = new Jinjava(config);
        jinjava.getGlobalContext().registerFunction(
                new ELFunctionDefinition("", "raise_exception", HuggingFaceJinja.class, "raiseException", String.class));
        jinjava.getGlobalContext().registerFunction(
                new ELFunctionDefinition("", "strftime_now", HuggingFaceJinja.class, "strftimeNow", String.class));
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", PythonSlice.FUNCTION, PythonSlice.class,
                "slice", Object.class, Object.class, Object.class, Object.class));
        // Jinja's globals are variables too: templates test "strftime_now is defined" before calling it.
        jinjava.getGlobalContext().put("raise_exception", "<function raise_exception>");
        jinjava.getGlobalContext().put("strftime_now", "<function strftime_now>");
    }

    /** Renders a (rewritten) template; the caller decides which of the result's errors are fatal. */
    public RenderResult render(String template, Map<String, ?> variables) {
        return jinjava.renderForResult(template, variables);
    }

    /** Called by templates as {@code raise_exception('...')} (HF's helper): aborts rendering with that message. */
    public static String raiseException(String message) {
        throw new IllegalArgumentException("chat template raised: " + message);
    }

    /** Called by templates as {@code strftime_now('%d %b %Y')}: now, by the rendering engine's clock and zone. */
    public static String strftimeNow(String format) {
        JinjavaConfig config = JinjavaInterpreter.getCurrent().getConfig();
        return PythonStrftime.format(Instant.ofEpochMilli(config.getDateTimeProvider().getCurrentTimeMillis())
                .atZone(config.getTimeZone()), format);
    }
}
