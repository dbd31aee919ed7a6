"""``python -m engine fetch-weights | check-weights``: install-time model set-up.

The one place the engine reads the environment: ``$JAMWITHME_MODEL_DIR`` (else
``$XDG_CACHE_HOME/jamwithme/models``) names the model folder.
"""

import os
import sys

from .weights import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:], os.environ))
