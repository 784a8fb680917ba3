package io.inferstream.runtime.tokenizer;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.List;

/**
 * Cuts special tokens out of raw text before any pre-tokenization (llama.cpp tokenizer_st_partition):
 * tokens are searched longest first, every occurrence in every remaining text fragment is replaced by
 * the token. User-defined tokens are always matched; control and unknown tokens only when special
 * parsing is on.
 */
final class SpecialTokenSplitter {

    /** Either a piece of raw text ({@code token == -1}) or one special token. */
    static final class Fragment {
        final String text;
        final int token;

        private Fragment(String text, int token) {
            this.text = text;
            this.token = token;
        }

        static Fragment text(String text) {
            return new Fragment(text, -1);
        }

        static Fragment token(int token) {
            return new Fragment(null, token);
        }

        boolean isText() {
            return token < 0;
        }
    }

    private final Vocabulary vocab;
    private final int[] candidates; // special token ids, longest text first
    private final BitSet lstrip;
    private final BitSet rstrip;

    SpecialTokenSplitter(Vocabulary vocab, BitSet lstrip, BitSet rstrip) {
        this.vocab = vocab;
        this.lstrip = lstrip;
        this.rstrip = rstrip;
        List<Integer> ids = new ArrayList<>();
        for (int id = 0; id < vocab.size(); id++) {
            if (vocab.type(id).isSpecial() && !vocab.piece(id).isEmpty()) {
                ids.add(id);
            }
        }
        ids.sort(Comparator.comparingInt((Integer id) -> -vocab.piece(id).length()).thenComparingInt(id -> id));
        this.candidates = ids.stream().mapToInt(Integer::intValue).toArray();
    }

    SpecialTokenSplitter(Vocabulary vocab) {
        this(vocab, new BitSet(), new BitSet());
    }

    /** Splits the text; empty text gives no fragments at all (so no dummy-prefix space either). */
    List<Fragment> split(String text, boolean parseSpecial) {
        List<Fragment> fragments = new ArrayList<>();
        if (text.isEmpty()) {
            return fragments;
        }
        fragments.add(Fragment.text(text));
        for (int id : candidates) {
            TokenType type = vocab.type(id);
            if (!parseSpecial && type != TokenType.USER_DEFINED) {
                continue;
            }
            String special = vocab.piece(id);
            List<Fragment> next = null;
            for (int f = 0; f < fragments.size(); f++) {
                Fragment fragment = fragments.get(f);
                if (!fragment.isText() || fragment.text.indexOf(special) < 0) {
                    if (next != null) {
                        next.add(fragment);
                    }
                    continue;
                }
                if (next == null) {
                    next = new ArrayList<>(fragments.subList(0, f));
                }
                cut(fragment.text, special, id, next);
            }
            if (next != null) {
                fragments = next;
            }
        }
        return fragments;
    }

    private void cut(String text, String special, int id, List<Fragment> out) {
        int from = 0;
        int end = text.length();
        while (from < end) {
            int match = text.indexOf(special, from);
            if (match < 0) {
                break;
            }
            int leftEnd = match;
            if (lstrip.get(id)) {
                while (leftEnd > from && isAsciiSpace(text.charAt(leftEnd - 1))) {
                    leftEnd--;
                }
            }
            if (leftEnd > from) {
                out.add(Fragment.text(text.substring(from, leftEnd)));
            }
            out.add(Fragment.token(id));
            from = match + special.length();
            if (rstrip.get(id)) {
                while (from < end && isAsciiSpace(text.charAt(from))) {
                    from++;
                }
            }
        }
        if (from < end) {
            out.add(Fragment.text(text.substring(from)));
        }
    }

    /** C isspace() in the "C" locale, which llama.cpp uses for lstrip/rstrip. */
    private static boolean isAsciiSpace(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0x0B || c == '\f';
    }
}
