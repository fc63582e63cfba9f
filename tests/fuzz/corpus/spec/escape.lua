os.execute('true') io.open('x') load('return 1') string.dump(print)
