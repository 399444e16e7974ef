"""The charts of report.html and compare.html: matplotlib figures as inline SVG."""
