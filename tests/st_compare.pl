# st_compare.pl A B RTOL: every float of two safetensors files with the same header (same tensors);
# fails when max|a - b| > RTOL * max|b| (the file's scale, as check.h's scaled tolerance); also
# prints the worst element-wise relative difference (|b| floored at 1e-3) for information.
use strict;
my ($fa, $fb, $rtol) = @ARGV;
sub rd { open(my $f, '<:raw', $_[0]) or die "$_[0]: $!"; local $/; my $d = <$f>; my $n = unpack('Q<', substr($d, 0, 8)); return (substr($d, 8, $n), substr($d, 8 + $n)); }
my ($ha, $da) = rd($fa); my ($hb, $db) = rd($fb);
# the same model writes the same tensor table; the metadata (train_state) may differ
die "not both F32 tensors only\n" if $ha =~ /"dtype":"(?!F32)/ || $hb =~ /"dtype":"(?!F32)/ || $ha !~ /F32/;
my @a = unpack('f<*', $da); my @b = unpack('f<*', $db);
die "lengths differ\n" if @a != @b;
my ($worst, $wi, $same, $dmax, $bmax) = (0, 0, 0, 0, 0);
for my $i (0 .. $#a) {
    my $s = abs($b[$i]); $s = 1e-3 if $s < 1e-3;
    my $r = abs($a[$i] - $b[$i]) / $s;
    $same++ if $a[$i] == $b[$i];
    my $d = abs($a[$i] - $b[$i]); $dmax = $d if $d > $dmax; $bmax = abs($b[$i]) if abs($b[$i]) > $bmax;
    ($worst, $wi) = ($r, $i) if $r > $worst;
}
printf "%d floats, %d identical; max|a-b| %.3g = %.3g x max|b| (tolerance %g); element-wise worst %.3g at %d (%.9g vs %.9g)\n",
    scalar @a, $same, $dmax, $dmax / $bmax, $rtol, $worst, $wi, $a[$wi], $b[$wi];
exit($dmax <= $rtol * $bmax ? 0 : 1);
