"""Pure webhook logic: signatures, event parsing and dedupe keys. No I/O here."""
