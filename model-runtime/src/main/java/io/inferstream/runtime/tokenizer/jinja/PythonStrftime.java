package io.inferstream.runtime.tokenizer.jinja;

import java.time.ZonedDateTime;

/**
 * Python's {@code datetime.strftime} in the C locale (English names), for the directives chat templates use:
 * {@code %d %b %B %Y %y %m %H %I %M %S %a %A %j %p %%}. Any other {@code %x} is written as it stands, as glibc
 * does with a directive it does not know.
 */
final class PythonStrftime {

    // the C locale's names, whatever the JVM's locale data says
    private static final String[] MONTHS = {"January", "February", "March", "April", "May", "June", "July", "August",
            "September", "October", "November", "December"};
    private static final String[] DAYS = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};

    private PythonStrftime() {
    }

    static String format(ZonedDateTime t, String format) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 == format.length()) {
                sb.append(c);
                continue;
            }
            char d = format.charAt(++i);
            switch (d) {
                case 'd' -> pad(sb, t.getDayOfMonth(), 2);
                case 'm' -> pad(sb, t.getMonthValue(), 2);
                case 'Y' -> sb.append(t.getYear());
                case 'y' -> pad(sb, Math.floorMod(t.getYear(), 100), 2);
                case 'H' -> pad(sb, t.getHour(), 2);
                case 'I' -> pad(sb, t.getHour() % 12 == 0 ? 12 : t.getHour() % 12, 2);
                case 'M' -> pad(sb, t.getMinute(), 2);
                case 'S' -> pad(sb, t.getSecond(), 2);
                case 'j' -> pad(sb, t.getDayOfYear(), 3);
                case 'p' -> sb.append(t.getHour() < 12 ? "AM" : "PM");
                case 'b' -> sb.append(MONTHS[t.getMonthValue() - 1], 0, 3);
                case 'B' -> sb.append(MONTHS[t.getMonthValue() - 1]);
                case 'a' -> sb.append(DAYS[t.getDayOfWeek().ordinal()], 0, 3);
                case 'A' -> sb.append(DAYS[t.getDayOfWeek().ordinal()]);
                case '%' -> sb.append('%');
                default -> sb.append('%').append(d);
            }
        }
        return sb.toString();
    }

    private static void pad(StringBuilder sb, int value, int width) {
        String digits = Integer.toString(value);
        sb.append("0".repeat(Math.max(0, width - digits.length()))).append(digits);
    }
}
