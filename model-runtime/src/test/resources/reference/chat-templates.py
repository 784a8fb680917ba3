# Writes chat-templates.json, the fixture ChatTemplateReferenceTest reads: each case's template rendered by Python's
# jinja2 (3.1.6) set up as Hugging Face transformers' apply_chat_template sets it up (an ImmutableSandboxedEnvironment
# with trim_blocks, lstrip_blocks and loop controls; globals raise_exception and strftime_now), so our Jinjava
# rendering is checked against the reference engine, not against itself. strftime_now formats a fixed time
# (2026-11-30 14:05:09, as the Java test's clock) instead of now, so the output is reproducible.
#   pip install jinja2==3.1.6 && python3 chat-templates.py
# The templates are written for these tests: they use the constructs of current models' templates (Qwen3-style
# reasoning blocks, Llama-3.1-style system headers) without being copies of them.
import datetime
import json

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

FIXED_NOW = datetime.datetime(2026, 11, 30, 14, 5, 9)


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def strftime_now(format):
    return FIXED_NOW.strftime(format)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = strftime_now

# A reasoning model's template: the last real user turn is found by walking the conversation backwards; assistant
# turns after it keep their reasoning, earlier ones lose it; enable_thinking=false closes an empty reasoning block.
REASONING = """\
{%- if messages[0].role == 'system' %}
    {{- '<|turn|>system\\n' ~ messages[0].content ~ '<|end|>\\n' }}
{%- endif %}
{%- set state = namespace(looking=true, last_user=messages|length - 1) %}
{%- for turn in messages[::-1] %}
    {%- set position = messages|length - 1 - loop.index0 %}
    {%- if state.looking and turn.role == 'user' %}
        {%- if not (turn.content.startswith('<result>') and turn.content.endswith('</result>')) %}
            {%- set state.looking = false %}
            {%- set state.last_user = position %}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- for turn in messages %}
    {%- set text = turn.content if turn.content is string else '' %}
    {%- if turn.role == 'user' or (turn.role == 'system' and not loop.first) %}
        {{- '<|turn|>' ~ turn.role ~ '\\n' ~ text ~ '<|end|>\\n' }}
    {%- elif turn.role == 'assistant' %}
        {%- set thought = '' %}
        {%- if '</think>' in text %}
            {%- set thought = text.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}
            {%- set text = text.split('</think>')[-1].lstrip('\\n') %}
        {%- endif %}
        {%- if loop.index0 > state.last_user and (loop.last or thought) %}
            {{- '<|turn|>assistant\\n<think>\\n' ~ thought.strip('\\n') ~ '\\n</think>\\n\\n' ~ text }}
        {%- else %}
            {{- '<|turn|>assistant\\n' ~ text }}
        {%- endif %}
        {{- '<|end|>\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|turn|>assistant\\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\\n\\n</think>\\n\\n' }}
    {%- endif %}
{%- endif %}
"""

# A template with a dated system header: the date comes from strftime_now where the renderer has it.
DATED_HEADER = """\
{{- bos_token }}
{%- if strftime_now is defined %}
    {%- set today = strftime_now("%d %b %Y") %}
{%- else %}
    {%- set today = "01 Jan 2024" %}
{%- endif %}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_text = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_text = "" %}
{%- endif %}
{{- "<|header|>system<|/header|>\\n\\n" }}
{{- "Knowledge cutoff: December 2023\\n" }}
{{- "Today: " + today + "\\n\\n" }}
{{- system_text }}
{{- "<|eot|>" }}
{%- for message in messages %}
    {%- if 'tool_calls' in message %}
        {{- raise_exception('tool calls are not in this test') }}
    {%- elif message.content is not none %}
        {{- '<|header|>' + message['role'] + '<|/header|>\\n\\n' + message['content'] | trim + '<|eot|>' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|header|>assistant<|/header|>\\n\\n' }}
{%- endif %}
"""

# A template that folds the system message into the first user turn and renames the assistant (as Gemma's do): both-side
# whitespace control everywhere, alternation checked with raise_exception, "is string" / "is iterable" content tests.
FOLDED_SYSTEM = """\
{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set prefix = messages[0]['content'] + '\\n\\n' -%}
    {%- else -%}
        {%- set prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}
    {%- endif -%}
    {%- set turns = messages[1:] -%}
{%- else -%}
    {%- set prefix = "" -%}
    {%- set turns = messages -%}
{%- endif -%}
{%- for m in turns -%}
    {%- if (m['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("roles must alternate user/assistant") }}
    {%- endif -%}
    {%- set speaker = "model" if m['role'] == 'assistant' else m['role'] -%}
    {{ '<turn>' + speaker + '\\n' + (prefix if loop.first else "") }}
    {%- if m['content'] is string -%}
        {{ m['content'] | trim }}
    {%- elif m['content'] is iterable -%}
        {%- for part in m['content'] -%}
            {{ part['text'] | trim }}
        {%- endfor -%}
    {%- endif -%}
    {{ '<end_turn>\\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{ '<turn>model\\n' }}
{%- endif -%}
"""

THINKING_ANSWER = "<think>\nThe user greets me.\n\n</think>\n\nHello! How can I help?"
REASONING_CONVERSATION = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": "Hi there"},
    {"role": "assistant", "content": THINKING_ANSWER},
    {"role": "user", "content": "What is 2+2?"},
]
TOOL_CONVERSATION = [
    {"role": "user", "content": "Add 2 and 2"},
    {"role": "assistant", "content": "<think>\nI should call the tool.\n</think>\n\nCalling add."},
    {"role": "user", "content": "<result>4</result>"},
    {"role": "assistant", "content": "<think>\nThe tool said 4.\n</think>\nIt is 4."},
]
GREETING = [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Yo"}]

cases = [
    dict(name="reasoning: thinking unset", template=REASONING, messages=REASONING_CONVERSATION,
         add_generation_prompt=True),
    dict(name="reasoning: enable_thinking true", template=REASONING, messages=REASONING_CONVERSATION,
         add_generation_prompt=True, variables={"enable_thinking": True}),
    dict(name="reasoning: enable_thinking false", template=REASONING, messages=REASONING_CONVERSATION,
         add_generation_prompt=True, variables={"enable_thinking": False}),
    dict(name="reasoning: a tool result is not the last query; the last turn keeps its reasoning",
         template=REASONING, messages=TOOL_CONVERSATION, add_generation_prompt=False),
    dict(name="reasoning: the last assistant turn after the query keeps its reasoning", template=REASONING,
         messages=REASONING_CONVERSATION[:3], add_generation_prompt=False, variables={"enable_thinking": False}),
    dict(name="dated header: system message trimmed and dropped from the turns", template=DATED_HEADER,
         messages=[{"role": "system", "content": "  You are terse.\n"}, {"role": "user", "content": " Hi \n"}],
         add_generation_prompt=True, bos_token="<|begin|>"),
    dict(name="dated header: no system message", template=DATED_HEADER, messages=GREETING,
         add_generation_prompt=False, bos_token="<|begin|>"),
    dict(name="folded system: the system text opens the first user turn, the assistant is the model",
         template=FOLDED_SYSTEM, messages=[{"role": "system", "content": "Be brief."}] + GREETING
         + [{"role": "user", "content": "  Translate: bonjour \n"}], add_generation_prompt=True, bos_token="<bos>"),
    dict(name="folded system: no system message", template=FOLDED_SYSTEM, messages=GREETING[:1],
         add_generation_prompt=True, bos_token="<bos>"),
    dict(name="strftime_now directives",
         template="{{ strftime_now('%a %A %b %B %d %j %m %y %Y %H:%M:%S %p %% %I') }}|{{ strftime_now('plain') }}",
         messages=GREETING),
    dict(name="split without a separator splits on whitespace runs",
         template="{% set p = '  a  b\\t\\n c  '.split() %}{{ p|join('|') }}({{ p|length }})"
                  "{{ ''.split()|length }}{{ '   '.split()|length }}", messages=GREETING),
    dict(name="split with a separator keeps empty strings",
         template="{{ 'a,,b,'.split(',')|join('|') }}({{ 'a,,b,'.split(',')|length }}) "
                  "{{ '<|im_start|>x<|im_start|>y'.split('<|im_start|>')|join('|') }} "
                  "{{ 'a.b'.split('.')|join('|') }} {{ ''.split(',')|length }}", messages=GREETING),
    dict(name="split and rsplit with maxsplit",
         template="{{ 'a b c d'.split(' ', 2)|join('|') }} {{ '  a  b  c  '.split(none, 1)|join('|') }} "
                  "{{ 'a-b-c'.rsplit('-', 1)|join('|') }} {{ '  a  b  c  '.rsplit(none, 1)|join('|') }} "
                  "{{ 'a b c'.rsplit()|join('|') }} {{ 'x y z'.split(' ', 0)|join('|') }} "
                  "{{ 'k=v=w'.split('=', maxsplit=1)|join('|') }} {{ 'k=v=w'.rsplit(sep='=', maxsplit=1)|join('|') }}",
         messages=GREETING),
    dict(name="strip family with and without chars",
         template="[{{ 'xxhixx'.strip('x') }}][{{ '\\n\\nhi\\n'.rstrip('\\n') }}][{{ 'abcba'.lstrip('ab') }}]"
                  "[{{ '  hi  '.strip() }}][{{ '  hi  '.lstrip() }}][{{ '  hi  '.rstrip() }}][{{ '..hi..'.strip('.') }}]"
                  "[{{ ' \u00a0x\u3000'.strip() }}][{{ 'abc'.strip('') }}][{{ 'aaa'.strip('a') }}]",
         messages=GREETING),
    dict(name="find, rfind and count",
         template="{{ 'hello'.find('z') }} {{ 'hello'.find('l') }} {{ 'hello'.rfind('l') }} {{ 'hello'.find('l', 3) }} "
                  "{{ 'hello'.find('l', -2) }} {{ 'hello'.find('', 5) }} {{ 'hello'.find('', 6) }} "
                  "{{ 'hello'.find('h', 1, 3) }} {{ 'banana'.count('an') }} {{ 'banana'.count('') }} "
                  "{{ 'banana'.count('a', 2) }}", messages=GREETING),
    dict(name="replace with and without count",
         template="{{ 'aaaa'.replace('a', 'b', 2) }} {{ 'aaaa'.replace('a', 'b') }} {{ 'ab'.replace('', '-') }} "
                  "{{ 'ab'.replace('', '-', 2) }} {{ 'aaaa'.replace('a', 'b', 0) }} {{ 'abab'.replace('ab', 'x', -1) }}",
         messages=GREETING),
    dict(name="case methods",
         template="{{ \"they're bill's friends\".title() }}|{{ 'hELLO wORLD'.capitalize() }}|{{ 'Mi xy'.upper() }}|"
                  "{{ 'Mi XY'.lower() }}|{{ 'straße'.upper() }}|{{ 'a1b2 c3'.title() }}", messages=GREETING),
    dict(name="startswith and endswith with a tuple and bounds",
         template="{% for r in ['hello'.startswith(('x', 'he')), 'hello'.endswith(('lo', 'x')), 'hello'.startswith(('x', 'y')),"
                  " 'hello'.startswith('ll', 2), 'hello'.endswith('ell', 0, 4), 'hello'.startswith(''),"
                  " 'hello'.startswith('', 6), 'hello'.endswith('lo', -3)] %}{{ 'T' if r else 'F' }}{% endfor %}",
         messages=GREETING),
    dict(name="join and the is-methods",
         template="{{ ', '.join(['a', 'b']) }} {{ '-'.join('abc') }} {{ ''.join([]) }} "
                  "{% for r in ['123'.isdigit(), ''.isdigit(), 'abc'.isalpha(), 'ab1'.isalpha(), ' \\t'.isspace(),"
                  " ''.isspace(), 'a1'.isalnum(), 'a 1'.isalnum(), 'ABC1'.isupper(), 'Ab'.isupper(), 'abc'.islower(),"
                  " '123'.islower()] %}{{ 'T' if r else 'F' }}{% endfor %}", messages=GREETING),
    dict(name="slices with steps on lists",
         template="{% set x = [1, 2, 3, 4, 5] %}{{ x[::2]|join(',') }} {{ x[::-1]|join(',') }} {{ x[::-2]|join(',') }} "
                  "{{ x[3:0:-1]|join(',') }} {{ x[-2::-1]|join(',') }} {{ x[1:4:2]|join(',') }} {{ x[10:0:-3]|join(',') }} "
                  "{{ x[::-1][1:]|join(',') }} {{ x[:-6:-1]|join(',') }} {{ x[::3][::-1]|join(',') }} {{ x[-100:100:1]|join(',') }}",
         messages=GREETING),
    dict(name="slices with steps on strings and messages",
         template="{{ 'hello'[::-1] }} {{ 'hello'[1::2] }} {{ 'hello'[:1:-1] }} {{ messages[::-1][0].content }} "
                  "{{ messages[::-1]|map(attribute='role')|join(',') }} {{ messages [::-1] [-1] ['content'][::-1] }} "
                  "{{ (messages|map(attribute='content')|list)[::-1]|join('+') }} {{ '\U0001F600ab'[::-1] }}",
         messages=GREETING),
    dict(name="keyword arguments with arithmetic and comparisons",
         template="{% set ns = namespace(a=messages|length - 1, b='x=y, (z)', c=3 * 2 + 1, d=messages|length == 2) %}"
                  "{{ ns.a }} {{ ns.b }} {{ ns.c }} {{ 'yes' if ns.d else 'no' }} "
                  "{{ messages|map(attribute='role')|join(', ') }}", messages=GREETING),
    dict(name="macros with keyword arguments, and loop controls",
         template="{% macro turn(role, text, close='<|end|>') %}<{{ role }}>{{ text }}{{ close }}{% endmacro %}"
                  "{% for m in messages + messages %}{% if loop.index0 == 1 %}{% continue %}{% endif %}"
                  "{% if loop.index0 > 2 %}{% break %}{% endif %}{{ turn(m.role, m.content, close='|' ~ loop.length * 2) }}"
                  "{{ turn(text=m.content[::-1], role='r') }}{% endfor %}", messages=GREETING),
    dict(name="string literals and raw text are left alone",
         template="x[::-1] a=b-1 {{ 'x[::-1] f(a=b - 1)' }} {% raw %}{{ y[::-1] }}{% endraw %}{# z[::-1] #}"
                  "{{ \"it's [::2]\" }}", messages=GREETING),
    dict(name="a negative literal starts an expression", template="a {{ -1 }} b {{ - 2 }} c", messages=GREETING),
    dict(name="lstrip_blocks strips only a line's leading whitespace before a block or comment",
         template="a {% if true %}b{% endif %} c\n  {% if true %}\n  d\n\t{% endif %}\ne {# n #} f\n  {# n #}\ng\n"
                  "  {%+ if true %}h{% endif %}\n{{ 'i' }} {% if true %}j{% endif %}\n{% if true +%}\nk{% endif %}",
         messages=GREETING),
    dict(name="a raw block keeps its body; its tags strip and trim as blocks do",
         template="a\n  {% raw %}\n  {{ x[::-1] }}\n  {% endraw %}\nb {% raw -%}  \n c {%+ endraw +%}\nd",
         messages=GREETING),
    dict(name="trim_blocks removes one newline after a block or comment, not after an expression",
         template="{% if true %}\n\na{% endif %}\n{# c #}\nb{{ 'c' }}\nd{% if true -%}  \n  e{%- endif %}\n\n"
                  "{{- 'f' -}}\n  {% if true %}g{% endif %}", messages=GREETING),
]

for case in cases:
    case.setdefault("add_generation_prompt", False)
    case.setdefault("bos_token", "<s>")
    case.setdefault("eos_token", "</s>")
    case.setdefault("variables", {})
    case["expected"] = env.from_string(case["template"]).render(
        messages=case["messages"], add_generation_prompt=case["add_generation_prompt"], bos_token=case["bos_token"],
        eos_token=case["eos_token"], **case["variables"])

with open("chat-templates.json", "w", encoding="utf-8") as out:
    json.dump({"jinja2": jinja2.__version__, "now": FIXED_NOW.isoformat(), "cases": cases}, out, ensure_ascii=False,
              indent=1)
    out.write("\n")
