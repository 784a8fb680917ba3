package io.inferstream.runtime.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PorterStemmerTest {

    private final PorterStemmer stemmer = new PorterStemmer();

    /**
     * Expected stems are the output of NLTK 3.10.3 {@code PorterStemmer('ORIGINAL_ALGORITHM').stem(word)}
     * — the stemmer rouge_score uses — for the examples of Porter's 1980 paper (steps 1a–5b), words of
     * this project's sample data, and y/double-consonant corner cases.
     */
    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({
        // Step 1a
        "caresses,caress", "ponies,poni", "ties,ti", "caress,caress", "cats,cat",
        // Step 1b (eed/ed/ing, then at/bl/iz, undoubling except l/s/z, and the m=1 *o rule)
        "feed,feed", "agreed,agre", "plastered,plaster", "bled,bled", "motoring,motor", "sing,sing",
        "conflated,conflat", "troubled,troubl", "sized,size", "hopping,hop", "tanned,tan", "falling,fall",
        "hissing,hiss", "fizzed,fizz", "failing,fail", "filing,file",
        // Step 1c
        "happy,happi", "sky,sky",
        // Step 2 (the original abli -> able rule)
        "relational,relat", "conditional,condit", "rational,ration", "valenci,valenc", "hesitanci,hesit",
        "digitizer,digit", "conformabli,conform", "radicalli,radic", "differentli,differ", "vileli,vile",
        "analogousli,analog", "vietnamization,vietnam", "predication,predic", "operator,oper",
        "feudalism,feudal", "decisiveness,decis", "hopefulness,hope", "callousness,callous",
        "formaliti,formal", "sensitiviti,sensit", "sensibiliti,sensibl",
        // Step 3
        "triplicate,triplic", "formative,form", "formalize,formal", "electriciti,electr",
        "electrical,electr", "hopeful,hope", "goodness,good",
        // Step 4
        "revival,reviv", "allowance,allow", "inference,infer", "airliner,airlin", "gyroscopic,gyroscop",
        "adjustable,adjust", "defensible,defens", "irritant,irrit", "replacement,replac",
        "adjustment,adjust", "dependent,depend", "adoption,adopt", "homologou,homolog",
        "communism,commun", "activate,activ", "angulariti,angular", "homologous,homolog",
        "effective,effect", "bowdlerize,bowdler",
        // Step 5
        "probate,probat", "rate,rate", "cease,ceas", "controll,control", "roll,roll",
        // Words of the sample data and corner cases
        "generalizations,gener", "oscillators,oscil", "summarization,summar", "summaries,summari",
        "translating,translat", "translation,translat", "streaming,stream", "latency,latenc",
        "delivered,deliv", "refunded,refund", "billing,bill", "shipping,ship", "accounts,account",
        "technical,technic", "conversations,convers", "yyyy,yyyi", "syzygy,syzygi", "enjoying,enjoi",
        "played,plai", "flying,fly", "dying,dy", "lying,ly", "news,new", "agreement,agreement",
    })
    void stemsAsNltkOriginalAlgorithm(String word, String expected) {
        assertEquals(expected, stemmer.stem(word));
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({"Running,run", "CATS,cat"})
    void lowerCasesBeforeStemming(String word, String expected) {
        assertEquals(expected, stemmer.stem(word));
    }

    /**
     * Every word of sample-data/ (1,146 words) against the stems NLTK 3.10.3 gives in ORIGINAL_ALGORITHM
     * mode (fixture porter-nltk-original.tsv, written by NLTK, not by this class).
     */
    @Test
    void stemsEverySampleDataWordAsNltk() throws Exception {
        List<String> mismatches = new ArrayList<>();
        int checked = 0;
        try (InputStream in = getClass().getResourceAsStream("porter-nltk-original.tsv")) {
            assertNotNull(in, "fixture porter-nltk-original.tsv on the test classpath");
            BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            String line;
            while ((line = reader.readLine()) != null) {
                if (line.startsWith("#")) {
                    continue;
                }
                String[] pair = line.split("\t", -1);  // NLTK stems "s" to ""
                checked++;
                String actual = stemmer.stem(pair[0]);
                if (!actual.equals(pair[1])) {
                    mismatches.add(pair[0] + ": expected " + pair[1] + ", got " + actual);
                }
            }
        }
        assertEquals(1146, checked, "fixture size");
        assertTrue(mismatches.isEmpty(), mismatches.size() + " mismatches: " + mismatches);
    }
}
