package io.inferstream.runtime.tasks;

import java.util.Locale;

/** English names of ISO 639 language codes for prompts ("zh" → "Chinese", "fr" → "French"), from {@link Locale}. */
public final class LanguageNames {

    private LanguageNames() {
    }

    /**
     * @param code an ISO 639-1 or -2 code, optionally with a region or script ("zh-Hans", "pt_BR")
     * @throws IllegalArgumentException when the JDK knows no language by that code
     */
    public static String english(String code) {
        if (code == null || code.isBlank()) {
            throw new IllegalArgumentException("language code is empty");
        }
        Locale locale = Locale.forLanguageTag(code.trim().replace('_', '-'));
        String name = locale.getDisplayLanguage(Locale.ENGLISH);
        // An unknown code comes back as itself (or empty): not a language name.
        if (name.isEmpty() || name.equalsIgnoreCase(locale.getLanguage())) {
            throw new IllegalArgumentException("unknown language code '" + code + "' (expected ISO 639, e.g. en, zh, fr, de)");
        }
        return name;
    }

    /** Whether text in this language is written without spaces between words (chunks are joined without one). */
    public static boolean writtenWithoutSpaces(String code) {
        if (code == null) {
            return false;
        }
        String lang = Locale.forLanguageTag(code.trim().replace('_', '-')).getLanguage();
        return lang.equals("zh") || lang.equals("ja") || lang.equals("th") || lang.equals("lo") || lang.equals("km")
                || lang.equals("my");
    }
}
