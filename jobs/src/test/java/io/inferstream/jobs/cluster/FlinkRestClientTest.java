package io.inferstream.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FlinkRestClientTest {
    @Test
    void anErrorReplysStackTracesAreShortenedToTheirRootCauses() throws Exception {
        String trace = "org.apache.flink.runtime.rest.handler.RestHandlerException: Could not execute application.\n"
                + "\tat a.b(C.java:1)\nCaused by: java.lang.IllegalStateException: the stream job's command line "
                + "ended with exit code 2; it said:\nERROR: no\n\tat d.e(F.java:2)\n";
        String body = new ObjectMapper().writeValueAsString(Map.of("errors", List.of(trace, "Job could not be found.")));
        assertEquals("java.lang.IllegalStateException: the stream job's command line ended with exit code 2; it said:\n"
                + "ERROR: no; Job could not be found.", FlinkRestClient.errors(body));
    }

    @Test
    void aReplyThatIsNotFlinksErrorListIsKeptWhole() {
        assertEquals("<html>Bad Gateway</html>", FlinkRestClient.errors("<html>Bad Gateway</html>"));
        assertEquals("{\"message\":\"x\"}", FlinkRestClient.errors("{\"message\":\"x\"}"));
    }
}
