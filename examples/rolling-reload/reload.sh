# A slow reload for the example: says which host reloads what, in ../reloads.log, over 1 s.
host=${PWD##*/}
echo "$host reloading $(cat "$1")" >> ../reloads.log
sleep 1
echo "$host reloaded $(cat "$1")" >> ../reloads.log
