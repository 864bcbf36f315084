"""Where the numbers go besides the terminal: the HTML report and Prometheus metrics."""
