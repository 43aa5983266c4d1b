from seriesguard.cli import main

main()
