from case2code.cli import app

app(prog_name="c2c")
