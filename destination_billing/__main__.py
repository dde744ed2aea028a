"""`python -m destination_billing spec|check|discover|write ...`: what the image runs."""

from destination_billing.run import run

if __name__ == "__main__":
    run()
