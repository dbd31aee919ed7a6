"""What an export (and the player) may ask for: the tempo and key ranges. Read by the
renderer, the request's checks and the templates alike."""

TEMPO_RANGE = (0.5, 1.5)  # times the recorded tempo
SEMITONE_RANGE = (-6, 6)  # whole semitones from the recorded key
