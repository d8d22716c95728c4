"""``python -m greatleap``: the command line."""
from greatleap.cli import main

if __name__ == "__main__":
    main()
