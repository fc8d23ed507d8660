from blurb_lab.cli import main

# The guard matters: DDP worker processes are started with "spawn", which imports this module
# again; without it every worker would start a second sweep.
if __name__ == "__main__":
    main()
