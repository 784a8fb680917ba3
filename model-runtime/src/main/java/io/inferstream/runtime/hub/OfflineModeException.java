package io.inferstream.runtime.hub;

import java.io.IOException;
import java.nio.file.Path;

/** Offline mode is on and a needed Hub file is not in the cache. */
public class OfflineModeException extends IOException {

    private static final long serialVersionUID = 1L;

    private final transient Path neededFile;

    public OfflineModeException(String message, Path neededFile) {
        super(message);
        this.neededFile = neededFile;
    }

    /** Where the file must be placed for the spec to resolve offline. */
    public Path neededFile() {
        return neededFile;
    }
}
