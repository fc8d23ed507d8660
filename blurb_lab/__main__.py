from blurb_lab.cli import main

main()
