"""HTTP without Django: the standalone webhook listener and ``HttpSink``."""
