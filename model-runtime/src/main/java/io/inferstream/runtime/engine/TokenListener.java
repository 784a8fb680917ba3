package io.inferstream.runtime.engine;

/**
 * Receives a request's tokens as they are generated. Called on the engine's step thread: keep it short.
 */
@FunctionalInterface
public interface TokenListener {

    /**
     * @param requestId the request
     * @param token     the new token id
     * @param textDelta text that became complete with this token (may be empty; empty without a tokenizer)
     */
    void onToken(String requestId, int token, String textDelta);
}
