from konvsync.cli.main import main

if __name__ == "__main__":
    main()
