"""`python -m fedpe.api --host H --port P`: serve the API with uvicorn."""

import argparse

import uvicorn


def main() -> None:
    parser = argparse.ArgumentParser(prog="fedpe.api")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    uvicorn.run("fedpe.api.app:create_app", factory=True, host=args.host, port=args.port, log_level="warning")


main()
