from qdc.cli import main

main()
