/**
 * Text ↔ token ids, matching the reference tokenizers token for token.
 *
 * <p>Entry point: {@link io.inferstream.runtime.tokenizer.Tokenizers} — {@code fromGguf} (GGUF
 * {@code tokenizer.ggml.*}), {@code fromHuggingFace} (tokenizer.json; vocab.json + merges.txt
 * [+ tokenizer_config.json]; tiktoken ranks such as Llama 3's tokenizer.model; SentencePiece .model) and {@code fromLlama2c}
 * (llama2.c tokenizer.bin). Two algorithms sit behind the {@link io.inferstream.runtime.tokenizer.Tokenizer}
 * interface:
 * <ul>
 *   <li>{@link io.inferstream.runtime.tokenizer.SentencePieceTokenizer}: llama.cpp's llm_tokenizer_spm
 *       (score-driven merges, dummy-prefix space, {@code <0xXX>} byte fallback);</li>
 *   <li>{@link io.inferstream.runtime.tokenizer.ByteLevelBpeTokenizer}: GPT-2 byte-level BPE with a
 *       {@link io.inferstream.runtime.tokenizer.PreTokenizer} chosen by {@code tokenizer.ggml.pre}
 *       (gpt-2/default, llama-bpe, qwen2 with NFC, smollm) or by the HF files.</li>
 * </ul>
 * Special tokens are cut out of the text first ({@code SpecialTokenSplitter}, llama.cpp's
 * tokenizer_st_partition): user-defined tokens always, control tokens only with {@code parseSpecial}.
 * End-of-generation ids follow llama.cpp (eos, eot, eom and tokens named {@code <|eot_id|>},
 * {@code <|im_end|>}, {@code <|end|>}, {@code <|endoftext|>}, ...).
 *
 * <p>Known deviations: a BPE vocabulary with pre-tokenizer {@code default} uses the GPT-2 regex (llama.cpp
 * uses a four-regex fallback there); a tiktoken file is read as Llama 3 (its 256 special tokens at
 * 128000.., named as in Llama 3.0, with 128008 — {@code <|eom_id|>} from 3.1 on — ending generation);
 * SentencePiece-style {@code tokenizer.json} files are not read (their {@code tokenizer.model} or the GGUF
 * vocabulary is).
 *
 * <p>{@link io.inferstream.runtime.tokenizer.ChatTemplate} renders a model's Jinja chat template, with Jinjava set up
 * to render as transformers' Jinja does ({@code tokenizer.jinja}).
 */
package io.inferstream.runtime.tokenizer;
