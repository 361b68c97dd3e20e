"""The ``citrace`` command line: ``main.main(argv)`` and one module per subcommand."""
