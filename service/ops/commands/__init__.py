"""The click commands; each module owns one top-level command or group."""
