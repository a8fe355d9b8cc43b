"""Domain vocabulary shared by every layer: enums, instruments, precision, time, intents."""
