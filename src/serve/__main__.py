"""`python -m src.serve ...`: the same as `facerec-serve ...`."""
from src.serve.cli import main

main()
