"""Entry point for running the connector from a checkout: `python main.py spec`."""

from source_billing.runtime.run import run

if __name__ == "__main__":
    run()
