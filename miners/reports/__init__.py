"""What a run's files tell: status, the gathered report, and its HTML and SVG."""
