package io.inferstream.runtime.tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;

import io.inferstream.runtime.gguf.GgufFile;

/** The one place tokenizers come from: GGUF metadata, Hugging Face / tiktoken files, or llama2.c's tokenizer.bin. */
public final class Tokenizers {

    private Tokenizers() {
    }

    /** From {@code tokenizer.ggml.*}: SentencePiece BPE for model {@code llama}, byte-level BPE for {@code gpt2}. */
    public static Tokenizer fromGguf(GgufFile gguf) {
        return GgufVocabularyReader.read(gguf);
    }

    /**
     * From Hugging Face files: a {@code tokenizer.json}; a folder with {@code tokenizer.json}, or with
     * {@code vocab.json} + {@code merges.txt} [+ {@code tokenizer_config.json}]; or a {@code tokenizer.model}
     * (or a folder holding one) that is either a tiktoken ranks file (Llama 3) or a SentencePiece model (Llama 2).
     */
    public static Tokenizer fromHuggingFace(Path path) {
        return fromHuggingFace(path, 0);
    }

    /**
     * {@link #fromHuggingFace(Path)} for a model whose embedding has {@code modelVocab} rows: byte-level vocabularies
     * that define fewer ids (Qwen2's files define 151 665 of its 151 936) get the rest as unused padding, as llama.cpp's
     * converter pads them, so that every id the model can produce has a piece. In a folder whose tokenizer.json is
     * SentencePiece-style (Llama 2, Mistral, TinyLlama), its {@code tokenizer.model} is read instead.
     */
    public static Tokenizer fromHuggingFace(Path path, int modelVocab) {
        if (Files.isDirectory(path)) {
            Path json = path.resolve("tokenizer.json");
            Path spm = path.resolve("tokenizer.model");
            if (Files.isRegularFile(json) && Files.isRegularFile(spm)
                    && !HuggingFaceVocabularyReader.isByteLevelTokenizerJson(json)) {
                return fromHuggingFace(spm, modelVocab);
            }
            if (Files.isRegularFile(json)) {
                return HuggingFaceVocabularyReader.readTokenizerJson(json, modelVocab);
            }
            if (Files.isRegularFile(path.resolve("vocab.json")) && Files.isRegularFile(path.resolve("merges.txt"))) {
                return HuggingFaceVocabularyReader.readVocabAndMerges(path, modelVocab);
            }
            if (Files.isRegularFile(path.resolve("tokenizer.model"))) {
                return fromHuggingFace(path.resolve("tokenizer.model"), modelVocab);
            }
            throw new IllegalArgumentException(path + ": no tokenizer.json, vocab.json + merges.txt, or tokenizer.model in this folder");
        }
        if (!Files.isRegularFile(path)) {
            throw new IllegalArgumentException(path + " does not exist");
        }
        String name = path.getFileName().toString();
        if (name.endsWith(".json")) {
            return HuggingFaceVocabularyReader.readTokenizerJson(path, modelVocab);
        }
        if (TiktokenReader.looksLikeTiktoken(path)) {
            return TiktokenReader.readLlama3(path);
        }
        if (SentencePieceModelReader.looksLikeSentencePieceModel(path)) {
            return SentencePieceModelReader.read(path);
        }
        throw new IllegalArgumentException(path + ": neither a tokenizer.json, a tiktoken ranks file ('<base64> <rank>' lines)"
                + " nor a SentencePiece .model");
    }

    /** From llama2.c's tokenizer.bin, reading every token in the file. */
    public static Tokenizer fromLlama2c(Path tokBin) {
        return Llama2cVocabularyReader.read(tokBin, -1);
    }

    /** From llama2.c's tokenizer.bin with the model's vocabulary size (llama2.c reads exactly that many tokens). */
    public static Tokenizer fromLlama2c(Path tokBin, int vocabSize) {
        if (vocabSize <= 0) {
            throw new IllegalArgumentException("vocabSize must be positive, got " + vocabSize);
        }
        return Llama2cVocabularyReader.read(tokBin, vocabSize);
    }
}
