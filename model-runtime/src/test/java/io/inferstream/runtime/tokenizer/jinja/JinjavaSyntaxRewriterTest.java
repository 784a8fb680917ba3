package io.inferstream.runtime.tokenizer.jinja;

import static io.inferstream.runtime.tokenizer.jinja.JinjavaSyntaxRewriter.rewrite;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The source rewrite before Jinjava parses a chat template (its rendering is checked against jinja2 elsewhere). */
class JinjavaSyntaxRewriterTest {

    @Test
    void aSteppedSliceBecomesACallWhoseResultCanBeSubscripted() {
        assertEquals("{{ (__py_slice__(messages, none, none, -1))[0].content }}", rewrite("{{ messages[::-1][0].content }}"));
        assertEquals("{%- for m in (__py_slice__(messages, none, none, -1)) %}", rewrite("{%- for m in messages[::-1] %}"));
        assertEquals("{{ (__py_slice__(x, 1, -1, 2)) }}", rewrite("{{ x[ 1 : -1 : 2 ] }}"));
        assertEquals("{{ (__py_slice__(x, none, 3, none)) }}", rewrite("{{ x[:3:] }}"));
    }

    @Test
    void theOperandIsTheWholePostfixChainBeforeTheBracket() {
        assertEquals("{{ (__py_slice__(a.b[0](c).d, none, none, 2)) }}", rewrite("{{ a.b[0](c).d[::2] }}"));
        assertEquals("{{ (__py_slice__((__py_slice__(x, none, none, 2)), none, none, -1)) }}", rewrite("{{ x[::2][::-1] }}"));
        assertEquals("{{ 1 + (__py_slice__([1, 2], none, none, -1))|length }}", rewrite("{{ 1 + [1, 2][::-1]|length }}"));
        assertEquals("{{ (__py_slice__('abc', none, none, -1)) }}", rewrite("{{ 'abc'[::-1] }}"));
        assertEquals("{{ (__py_slice__((a ~ b), none, none, -1)) }}", rewrite("{{ (a ~ b)[::-1] }}"));
        assertEquals("{% if x in (__py_slice__((a, b), none, none, -1)) %}", rewrite("{% if x in (a, b)[::-1] %}"));
        assertEquals("{{ (__py_slice__(x, (__py_slice__(y, none, none, -1))[0], none, none)) }}", rewrite("{{ x[y[::-1][0]::] }}"));
    }

    @Test
    void slicesWithoutAStepAndListLiteralsAreLeftToJinjava() {
        for (String t : new String[] {"{{ messages[1:] }}", "{{ x[:-1] }}", "{{ x[1:3] }}", "{{ [a, b] }}",
                "{{ {'a': 1}['a'] }}", "{{ x['a:b:c'] }}"}) {
            assertEquals(t, rewrite(t));
        }
    }

    @Test
    void keywordArgumentValuesAreParenthesized() {
        assertEquals("{% set ns = namespace(a=(messages|length - 1), b=('x')) %}",
                rewrite("{% set ns = namespace(a=messages|length - 1, b='x') %}"));
        assertEquals("{{ f(1, key = (g(h=(2 * 3), i)[0])) }}", rewrite("{{ f(1, key = g(h=2 * 3, i)[0]) }}"));
        assertEquals("{{ x|tojson(indent=(2)) }}", rewrite("{{ x|tojson(indent=2) }}"));
    }

    @Test
    void comparisonsAndAssignmentsAreNotKeywordArguments() {
        for (String t : new String[] {"{{ f(a == b, c != d, e <= g, h >= i) }}", "{% set x = y %}", "{% set ns.i = 1 %}",
                "{{ (a == b) }}", "{% macro m(a, b=1 + 2) %}{% endmacro %}"}) {
            assertEquals(t, rewrite(t));
        }
    }

    @Test
    void stringLiteralsTextCommentsAndRawBlocksAreUntouched() {
        String t = "x[::-1] f(a=b - 1) {{ 'x[::-1] f(a=b - 1)' }}{{ \"it's [::2] }}\" }}{# y[::-1] #}"
                + "{% raw %}{{ z[::-1] }} f(a=b - 1){% endraw %}";
        assertEquals(t, rewrite(t));
        assertEquals("{{ f(a=('%}=x[::-1]')) }}", rewrite("{{ f(a='%}=x[::-1]') }}"));
    }

    @Test
    void trimAndLstripBlocksFollowJinja2sLexer() {
        // a line's indentation before a block or comment goes, and the newline after one; a space mid-line stays
        assertEquals("a\n{% if x %}b{% endif %}c", rewrite("a\n  {% if x %}\nb{% endif %}\nc"));
        assertEquals("a {% if x %}b{% endif %}", rewrite("a {% if x %}b{% endif %}"));
        assertEquals("{{ x }} {# c #}{# d #}e", rewrite("{{ x }} {# c #}\n\t{# d #}\ne"));
        // nothing is stripped after an expression, and "+" (which Jinjava does not know) keeps the whitespace
        assertEquals("{{ x }}\n  {% if y %}\n{% endif %}", rewrite("{{ x }}\n  {%+ if y +%}\n{% endif %}"));
        // "-" is Jinjava's own: left as it is
        assertEquals("a  {%- if x -%}  \n b", rewrite("a  {%- if x -%}  \n b"));
    }
}
