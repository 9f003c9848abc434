"""Command bodies for the seoib CLI: each module has add_arguments(parser) and run(args)."""
