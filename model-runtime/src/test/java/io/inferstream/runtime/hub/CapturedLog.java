package io.inferstream.runtime.hub;

import java.io.StringWriter;

import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.WriterAppender;
import org.apache.logging.log4j.core.config.Configuration;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.logging.log4j.core.layout.PatternLayout;

/** Everything one logger (and its children) writes, at every level, while open. */
final class CapturedLog implements AutoCloseable {

    private final String loggerName;
    private final LoggerContext context;
    private final WriterAppender appender;
    private final StringWriter text = new StringWriter();

    CapturedLog(String loggerName) {
        this.loggerName = loggerName;
        this.context = (LoggerContext) LogManager.getContext(false);
        Configuration config = context.getConfiguration();
        appender = WriterAppender.newBuilder()
                .setName("captured-" + loggerName)
                .setTarget(text)
                .setLayout(PatternLayout.newBuilder().withPattern("%p %c{1} %m%n").build())
                .build();
        appender.start();
        config.addAppender(appender);
        LoggerConfig logger = new LoggerConfig(loggerName, Level.ALL, false);
        logger.addAppender(appender, Level.ALL, null);
        config.addLogger(loggerName, logger);
        context.updateLoggers();
    }

    String text() {
        synchronized (text) {
            return text.toString();
        }
    }

    @Override
    public void close() {
        Configuration config = context.getConfiguration();
        config.removeLogger(loggerName);
        context.updateLoggers();
        appender.stop();
    }
}
