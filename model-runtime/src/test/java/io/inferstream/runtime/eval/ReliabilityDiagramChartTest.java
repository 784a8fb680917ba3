package io.inferstream.runtime.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReliabilityDiagramChartTest {

    private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    private static final int ACCURACY_BLUE = 0x1f77b4;
    private static final int CONFIDENCE_ORANGE = 0xff7f0e;

    @Test
    void writesAPngWithAccuracyAndConfidenceBars(@TempDir Path dir) throws Exception {
        ReliabilityDiagram d = ReliabilityDiagram.of(
                new double[] {0.95, 0.95, 1.0, 0.55, 0.6},
                new boolean[] {true, true, false, false, false});
        Path file = dir.resolve("plots/reliability.png");
        new ReliabilityDiagramChart(640, 480).writePng(d, "CLASSIFY", file);

        byte[] bytes = Files.readAllBytes(file);
        assertArrayEquals(PNG_SIGNATURE, Arrays.copyOf(bytes, 8), "PNG signature");
        BufferedImage image = ImageIO.read(file.toFile());
        assertNotNull(image, "decodes as an image");
        assertEquals(640, image.getWidth());
        assertEquals(480, image.getHeight());
        // Both series were drawn: bars filled with their colours occupy pixels.
        assertTrue(pixelsOf(image, ACCURACY_BLUE) > 100, "accuracy bars drawn");
        assertTrue(pixelsOf(image, CONFIDENCE_ORANGE) > 100, "confidence bars drawn");
    }

    private static int pixelsOf(BufferedImage image, int rgb) {
        int n = 0;
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                if ((image.getRGB(x, y) & 0xffffff) == rgb) {
                    n++;
                }
            }
        }
        return n;
    }
}
