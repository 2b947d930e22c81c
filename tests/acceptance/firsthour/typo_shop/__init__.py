"""An app whose tasks.py has an ordinary bug (a misspelt import): its traceback must stay."""
