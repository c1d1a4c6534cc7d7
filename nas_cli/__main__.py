from nas_cli.cli import main

raise SystemExit(main())
