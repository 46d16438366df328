from fedpe.cli.app import main

main()
