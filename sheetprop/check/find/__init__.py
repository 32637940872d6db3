"""Finding the backpropagation in a workbook: its table, its layout, its network."""
