"""What the API shows of the running pipeline: cameras' state and newest frames, and boxes drawn over them."""
