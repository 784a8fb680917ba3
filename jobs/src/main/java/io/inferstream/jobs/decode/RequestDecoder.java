package io.inferstream.jobs.decode;

import io.inferstream.jobs.wire.MalformedRecordException;
import io.inferstream.jobs.wire.WireDecoder;
import io.inferstream.jobs.wire.WireFormat;
import io.inferstream.schema.DeadLetter;
import io.inferstream.schema.InferenceRequest;
import java.io.Serializable;
import java.time.Clock;
import java.util.List;
import org.apache.avro.Schema;

/**
 * Turns the raw bytes of one input record into a valid {@link InferenceRequest}, or into a
 * {@link DeadLetter} that keeps the bytes and says why they were refused. It never throws on bad
 * input: malformed input must not fail the job.
 *
 * <p>Both wire formats are accepted, detected per record: Avro single-object encoding and JSON
 * (see {@link WireFormat}). A decoded request is then checked by {@link RequestValidator}.
 */
public final class RequestDecoder implements Serializable {
    private static final long serialVersionUID = 1L;

    private final WireDecoder<InferenceRequest> wire = WireDecoder.of(InferenceRequest.class);
    private final RequestValidator validator;
    private final Clock clock;

    public RequestDecoder(RequestValidator validator, Clock clock) {
        this.validator = validator;
        this.clock = clock;
    }

    public RequestDecoder(RequestValidator validator) {
        this(validator, Clock.systemUTC());
    }

    public RequestDecoder() {
        this(new RequestValidator());
    }

    /** Also accepts Avro requests written with an older released InferenceRequest schema. */
    public RequestDecoder withWriterSchema(Schema older) {
        wire.withWriterSchema(older);
        return this;
    }

    public DecodeOutcome decode(byte[] payload, RecordOrigin origin) {
        InferenceRequest request;
        try {
            request = wire.decode(payload);
        } catch (MalformedRecordException e) {
            return reject(payload, origin, null, e.getMessage());
        } catch (RuntimeException e) {
            // A decoder bug must not take the job down with it either; keep the record for inspection.
            return reject(payload, origin, null, "unexpected decoding failure: " + e);
        }
        List<String> problems = validator.problems(request);
        if (!problems.isEmpty()) {
            String id = request.getId() == null || request.getId().isBlank() ? null : request.getId();
            return reject(payload, origin, id, "invalid request: " + String.join("; ", problems));
        }
        return new DecodeOutcome.Accepted(request);
    }

    private DecodeOutcome reject(byte[] payload, RecordOrigin origin, String requestId, String reason) {
        return new DecodeOutcome.Rejected(DeadLetters.of(payload, origin, requestId, reason, clock));
    }
}
