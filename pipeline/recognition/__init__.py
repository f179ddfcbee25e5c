"""From located faces to named tracks: frames back in order, tracking, the known faces, the visitors' index."""
