package io.inferstream.runtime.tokenizer.jinja;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import com.hubspot.jinjava.el.ext.NamedParameter;

import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELException;
import jinjava.javax.el.ELResolver;

/**
 * Resolves method calls on strings the way Python does ({@code content.startswith('<tool_response>')},
 * {@code text.split('</think>')[0].rstrip('\n')}): without it Jinjava looks the name up on {@link String}, where
 * most of Python's methods do not exist and {@code split} is Java's regular-expression split. Only Python's
 * {@code str} method names on a {@code String} are resolved here; every other call, property and base falls through
 * to the next resolver (Jinjava's own, with its restrictions on what templates may call).
 */
final class PythonStringMethods extends ELResolver {

    private static final Set<String> METHODS = Set.of("startswith", "endswith", "strip", "lstrip", "rstrip", "split",
            "rsplit", "upper", "lower", "title", "capitalize", "replace", "find", "rfind", "count", "join", "isdigit",
            "isalpha", "isalnum", "isspace", "isupper", "islower");

    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
        if (!(base instanceof String s) || !(method instanceof String name) || !METHODS.contains(name)) {
            return null; // not Python's: Jinjava's resolver decides
        }
        Object result;
        try {
            result = call(s, name, new Arguments(name, params == null ? new Object[0] : params));
        } catch (IllegalArgumentException e) {
            throw new ELException(e.getMessage()); // a Python ValueError: Jinjava would take it for "no such method"
        }
        context.setPropertyResolved(true);
        return result;
    }

    private static Object call(String s, String name, Arguments args) {
        return switch (name) {
            case "startswith", "endswith" -> tailMatch(s, args, name.equals("endswith"));
            case "strip", "lstrip", "rstrip" -> {
                args.positionalOnly(0, 1);
                yield PythonStr.strip(s, args.string(0, true), !name.equals("rstrip"), !name.equals("lstrip"));
            }
            case "split", "rsplit" -> {
                args.keywords("sep", "maxsplit");
                Long max = args.integer(1, true);
                String sep = args.string(0, true);
                yield name.equals("split") ? PythonStr.split(s, sep, max == null ? -1 : max)
                        : PythonStr.rsplit(s, sep, max == null ? -1 : max);
            }
            case "upper" -> PythonStr.upper(args.none(s));
            case "lower" -> PythonStr.lower(args.none(s));
            case "title" -> PythonStr.title(args.none(s));
            case "capitalize" -> PythonStr.capitalize(args.none(s));
            case "replace" -> {
                args.positionalOnly(2, 3);
                Long count = args.integer(2, true);
                yield PythonStr.replace(s, args.string(0, false), args.string(1, false), count == null ? -1 : count);
            }
            case "find", "rfind" -> {
                args.positionalOnly(1, 3);
                yield PythonStr.find(s, args.string(0, false), args.integer(1, true), args.integer(2, true), name.equals("rfind"));
            }
            case "count" -> {
                args.positionalOnly(1, 3);
                yield PythonStr.count(s, args.string(0, false), args.integer(1, true), args.integer(2, true));
            }
            case "join" -> {
                args.positionalOnly(1, 1);
                yield join(s, args.get(0));
            }
            case "isdigit" -> PythonStr.isDigit(args.none(s));
            case "isalpha" -> PythonStr.isAlpha(args.none(s));
            case "isalnum" -> PythonStr.isAlnum(args.none(s));
            case "isspace" -> PythonStr.isSpace(args.none(s));
            case "isupper" -> PythonStr.isUpper(args.none(s));
            case "islower" -> PythonStr.isLower(args.none(s));
            default -> throw new IllegalStateException("not in METHODS: " + name);
        };
    }

    /** startswith/endswith: a string or a tuple (a list, in Jinjava) of strings, with optional start and end. */
    private static boolean tailMatch(String s, Arguments args, boolean atEnd) {
        args.positionalOnly(1, 3);
        Long start = args.integer(1, true);
        Long end = args.integer(2, true);
        Object affixes = args.get(0);
        if (affixes instanceof Collection<?> tuple) {
            for (Object affix : tuple) {
                if (!(affix instanceof String a)) {
                    throw args.typeError("a tuple of str");
                }
                if (PythonStr.tailMatch(s, a, start, end, atEnd)) {
                    return true;
                }
            }
            return false;
        }
        return PythonStr.tailMatch(s, args.string(0, false), start, end, atEnd);
    }

    /** {@code sep.join(iterable)}: every item must be a string, as in Python (a string joins its characters). */
    private static String join(String separator, Object iterable) {
        Iterable<?> items = iterable instanceof Iterable<?> it ? it
                : iterable instanceof Object[] array ? Arrays.asList(array)
                : iterable instanceof String str ? str.codePoints().mapToObj(Character::toString).toList()
                : null;
        if (items == null) {
            throw new ELException("TypeError: can only join an iterable");
        }
        StringBuilder sb = new StringBuilder();
        int i = 0;
        for (Object item : items) {
            if (!(item instanceof String str)) {
                throw new ELException("TypeError: sequence item " + i + ": expected str instance, "
                        + (item == null ? "NoneType" : item.getClass().getSimpleName()) + " found");
            }
            sb.append(i++ == 0 ? "" : separator).append(str);
        }
        return sb.toString();
    }

    /**
     * A call's arguments: positional ones first, then Jinjava's {@link NamedParameter}s for the methods that take
     * keywords in Python (split and rsplit). Errors are {@link ELException}s: Jinjava's method resolution swallows
     * IllegalArgumentException, and a Python TypeError must stop the render.
     */
    private static final class Arguments {
        private final String method;
        private final List<Object> values = new ArrayList<>();
        private final Map<String, Object> named = new TreeMap<>();

        Arguments(String method, Object[] params) {
            this.method = method;
            for (Object p : params) {
                if (p instanceof NamedParameter n) {
                    named.put(n.getName(), n.getValue());
                } else if (!named.isEmpty()) {
                    throw new ELException("SyntaxError: positional argument follows keyword argument in " + method + "()");
                } else {
                    values.add(p);
                }
            }
        }

        /** No arguments; gives back the string it was called on. */
        String none(String s) {
            positionalOnly(0, 0);
            return s;
        }

        void positionalOnly(int min, int max) {
            if (!named.isEmpty()) {
                throw new ELException("TypeError: str." + method + "() takes no keyword arguments");
            }
            if (values.size() < min || values.size() > max) {
                throw new ELException("TypeError: str." + method + "() takes " + (min == max ? "exactly " + min
                        : min == 0 ? "at most " + max : "from " + min + " to " + max) + " arguments (" + values.size() + " given)");
            }
        }

        /** Binds keywords to the positions of {@code names} (split's sep and maxsplit). */
        void keywords(String... names) {
            if (values.size() > names.length) {
                throw new ELException("TypeError: str." + method + "() takes at most " + names.length + " arguments ("
                        + values.size() + " given)");
            }
            int positional = values.size();
            for (Map.Entry<String, Object> e : named.entrySet()) {
                int at = Arrays.asList(names).indexOf(e.getKey());
                if (at < 0 || at < positional) {
                    throw new ELException("TypeError: str." + method + "() got " + (at < 0 ? "an unexpected" : "multiple values for")
                            + " keyword argument '" + e.getKey() + "'");
                }
                while (values.size() <= at) {
                    values.add(null);
                }
                values.set(at, e.getValue());
            }
            named.clear();
        }

        Object get(int i) {
            return i < values.size() ? values.get(i) : null;
        }

        String string(int i, boolean noneAllowed) {
            Object v = get(i);
            if (v instanceof String s) {
                return s;
            }
            if (v == null && noneAllowed) {
                return null;
            }
            throw typeError("str");
        }

        Long integer(int i, boolean noneAllowed) {
            Object v = get(i);
            if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
                return ((Number) v).longValue();
            }
            if (v == null && noneAllowed) {
                return null;
            }
            throw typeError("int");
        }

        ELException typeError(String expected) {
            return new ELException("TypeError: str." + method + "() expects " + expected + " arguments, got " + values);
        }
    }

    // ---- not a property resolver: everything else is the next resolver's --------------------------------------

    @Override
    public Object getValue(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {
    }

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) {
        return true;
    }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
        return null;
    }

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) {
        return null;
    }
}
