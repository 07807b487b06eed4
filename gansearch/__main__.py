from gansearch.cli.main import main

main()
