from jobcheck.cli import run

run()
