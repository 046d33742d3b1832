"""One module per ``cskd`` subcommand; each exposes ``add_parser(subparsers)``."""
