from sheetprop.cli import main
raise SystemExit(main())
