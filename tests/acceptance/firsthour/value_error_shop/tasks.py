RATE_PER_S = int("ten")
