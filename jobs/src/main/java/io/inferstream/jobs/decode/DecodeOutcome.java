package io.inferstream.jobs.decode;

import io.inferstream.schema.DeadLetter;
import io.inferstream.schema.InferenceRequest;

/** What {@link RequestDecoder} made of one record: a valid request, or a dead letter with the reason. */
public sealed interface DecodeOutcome permits DecodeOutcome.Accepted, DecodeOutcome.Rejected {

    /** The record decoded and passed validation. */
    final class Accepted implements DecodeOutcome {
        private final InferenceRequest request;

        Accepted(InferenceRequest request) {
            this.request = request;
        }

        public InferenceRequest request() {
            return request;
        }
    }

    /** The record was malformed or invalid. */
    final class Rejected implements DecodeOutcome {
        private final DeadLetter deadLetter;

        Rejected(DeadLetter deadLetter) {
            this.deadLetter = deadLetter;
        }

        public DeadLetter deadLetter() {
            return deadLetter;
        }
    }
}
